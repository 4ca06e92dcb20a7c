# dnn stage (being written)
