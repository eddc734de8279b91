"""What the service desk listens to in the apps to its left (alerts), and adds to their pages."""
