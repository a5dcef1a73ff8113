"""The programs the servers run (bin/backup, bin/logs, bin/rolling-restart, ...)."""
