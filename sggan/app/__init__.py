"""The command-line application: settings (config.py + flags), quiet start-up, the run context
(devices, strategy, chief), crash reports and the experiment lock. Only main.py imports it."""
