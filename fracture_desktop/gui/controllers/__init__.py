"""Controllers: own one kind of background work each and speak to widgets through signals."""
