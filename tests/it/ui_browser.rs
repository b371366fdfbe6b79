// browser walk: see below
