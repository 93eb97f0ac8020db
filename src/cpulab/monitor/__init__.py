"""Live measurements of the machine for the faces; no Textual and no scikit-learn here."""
