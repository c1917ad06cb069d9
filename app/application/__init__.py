"""The use cases: one application service per aggregate (orders, offers) over one shared event
store, and the marketplace sync (order import, delivery of the merchant's actions, offer feed),
written against the ports in `app.ports`."""
