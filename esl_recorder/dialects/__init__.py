"""One module per vendor: parse a request into domain terms, render domain objects back."""
