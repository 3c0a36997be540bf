"""arq worker entry point: task functions and cron."""
