"""One module per console page; each adds its routes to smsgw.console.blueprint.bp."""
