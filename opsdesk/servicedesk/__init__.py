"""The service desk: tickets from the portal, email, chat, phone, the API and alerts, handled
against SLA commitments counted on business calendars."""
