"""jaxar: X3D-UGT action recognition in JAX/Flax."""
__version__ = "0.1.0"
