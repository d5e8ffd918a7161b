"""The in-house CRM's nightly dumps: crm_assigned_leads and crm_sales (snapshots)."""
