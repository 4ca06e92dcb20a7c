# expression stage (being written)
