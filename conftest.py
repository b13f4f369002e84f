# eventlet must patch the standard library before anything opens a socket (nameko's pytest plugin
# no longer does it).
import eventlet

eventlet.monkey_patch()
