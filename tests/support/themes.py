"""Theme files the loader must refuse."""

# (file text, the reason given). The theme tests check each reason; the reliability suite
# puts them all in front of the app at once.
BROKEN_THEMES = [
    ('name = "x"\nprimary = \n', "Invalid value"),
    ('primary = "#123456"\n', "needs a name"),
    ("", "needs a name"),
    ('name = 5\nprimary = "#123456"\n', "needs a name"),
    ('name = "x"\n', "at least a primary colour"),
    ('name = "x"\nprimary = "bluish"\n', "primary = 'bluish' is not a colour"),
    ('name = "x"\nprimary = "hsl(nan, 50%, 50%)"\n', "is not a colour"),
    ('name = "x"\nprimary = "#123456"\nprimery = "#123456"\n', "unknown key 'primery'"),
    ('name = "x"\nprimary = "#123456"\ndark = "yes"\n', "dark must be true or false"),
    ('name = "x"\nprimary = "#123456"\ntext_alpha = "half"\n', "text_alpha must be a finite"),
    ('name = "x"\nprimary = "#123456"\ntext_alpha = inf\n', "text_alpha must be a finite"),
    ('name = "x"\nprimary = "#123456"\nluminosity_spread = nan\n', "must be a finite number"),
    (
        'name = "x"\nprimary = "#123456"\nluminosity_spread = 1e308\n',
        "its colours cannot be worked out",
    ),
    ('name = "x"\nprimary = "#123"\n[variables]\nnope = "#fff"\n', "unknown variable 'nope'"),
    ('name = "x"\nprimary = "#123"\nvariables = "all"\n', "variables must be a table"),
    ('name = "x"\nprimary = "#123"\n[variables]\nboost = 5\n', "variable boost must be a str"),
    (
        'name = "x"\nprimary = "#123456"\n[variables]\nlink-style = "shiny"\n',
        "variable link-style = 'shiny' is not a text-style value",
    ),
    (
        'name = "x"\nprimary = "#123456"\n[variables]\nfooter-key-foreground = "#zz0000"\n',
        "variable footer-key-foreground = '#zz0000' is not a color value",
    ),
]
