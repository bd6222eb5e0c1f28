"""The text pipeline: clean-up, paragraphs and sentences, duplicate removal, chunking to a
model window, extractive summaries and language detection. No models, no grpc."""
