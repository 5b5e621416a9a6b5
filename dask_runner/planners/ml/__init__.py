"""The learned planner (``planner=ml_planner``): features, network, checkpoint, training. torch is optional.

Importing this package does not import torch; ``MLPlanner`` raises a ConfigError naming
``pip install 'dask_runner[ml]'`` when it is missing.
"""
