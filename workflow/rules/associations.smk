# associations stage (being written)
