def nine():
    return 9
