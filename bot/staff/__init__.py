"""The Community Safety Team's accounts and sign-in."""
