"""Model catalogue, loading, and the language logic of each seq2seq family."""
