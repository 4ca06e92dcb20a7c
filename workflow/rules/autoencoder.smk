# autoencoder stage (being written)
