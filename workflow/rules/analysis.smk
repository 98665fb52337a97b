# Rules of the analysis stage.
