{#- Every status change of every exception across all sluice models, as recorded (append-only)
    by the sluice materialization. Reads the package's own table by name, never through ref(). -#}
select * from {{ sluice._sluice_bookkeeping_relation('events_table') }}
