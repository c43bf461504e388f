"""Speed benchmarks that print numbers (``make bench`` = ``python -m benchmarks``)."""
