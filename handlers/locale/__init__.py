"""Reply texts, one module per language; keys are the same in every module."""
