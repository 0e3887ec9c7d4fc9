from chatapp.app import main

raise SystemExit(main())
