print("mirage")
