"""Writing what a target plays to other formats: MD trajectory files and movies."""
