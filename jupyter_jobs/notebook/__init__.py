"""Cell and notebook jobs on the kernel side: building them, following them into a cell, results."""
