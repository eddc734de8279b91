"""The customer portal: customer users write, follow and answer their requests here."""
