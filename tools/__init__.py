"""Developer tools kept out of the runtime package: the generators of the documents derived from the code."""
