"""Built-in stages. Importing a module registers its stages: add one import line per new module."""
