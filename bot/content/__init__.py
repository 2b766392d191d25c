"""What the assistant knows and says, loaded once: flows, directory, catalogs, examples."""
