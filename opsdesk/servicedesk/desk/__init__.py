"""The engineers' side of the service desk: the queues and the ticket page."""
