# baseline stage (being written)
