"""WhatsApp, through pywa and the Cloud API."""
