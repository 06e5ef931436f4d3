"""What to run: the JobSpec model (`models`), the config.yaml reader (`config`) and writer (`writer`).

Nothing is imported here, so code that needs only the models does not pay for the YAML reader.
"""
