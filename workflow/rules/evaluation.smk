# evaluation stage (being written)
