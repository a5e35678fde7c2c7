from chainlight.cli import app

app(prog_name="chainlight")
