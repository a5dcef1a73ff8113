"""The zc.buildout recipes: each renders, checks or provisions one thing."""
