"""Client records from CRM exports, their links to posts and the visit briefing."""
