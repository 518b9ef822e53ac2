"""The pure maths behind the concept pages: small functions of tensors, no UI and no training loop."""
