"""Built-in provider plugins; each loads through the `gpuhours.providers` entry points."""
