# demo stage (being written)
