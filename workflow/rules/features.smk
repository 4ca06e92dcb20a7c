# features stage (being written)
