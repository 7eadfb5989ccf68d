"""The core: the model, the vocabulary, the rules, the plan. Pure: no I/O, no clock."""
