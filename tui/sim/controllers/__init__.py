"""The simulated cluster's controllers, one module per component (wired up by tui.sim.components)."""
