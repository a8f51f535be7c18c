"""Industry classification (GB/T 4754-2017) and free tags for knowledge-base entries."""
