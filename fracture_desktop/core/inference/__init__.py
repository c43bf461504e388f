"""Model definitions, model cards and the inference engine: the only runtime home of torch."""
