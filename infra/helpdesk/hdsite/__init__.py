"""Local django-helpdesk site: where `make run` and the integration tests deliver tickets."""
