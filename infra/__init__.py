"""Local services for `make run` and the tests: embedded broker, helpdesk, topic bootstrap."""
