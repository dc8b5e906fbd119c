"""modelfile room."""
